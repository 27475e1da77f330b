"""Who is calling: token verification (v2 WSO2, bearer, Tapis v3) and principals."""
