"""Sample actor images (abacosamples/*), built locally and offline; see images/build.py."""
