"""The AWS CDK app of Abaco on AWS: one stack per stage, built from ``chalicelib.wiring.resources``."""
