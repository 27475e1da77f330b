"""The domain: models, errors, access levels, and pure logic (cron, query, ids, inputs). Never imports boto3."""
