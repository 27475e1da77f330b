"""Infrastructure as code (the CDK app) and its build helpers; see ``build.py``."""
