"""One module per DynamoDB table: each owns its keys, TTL attribute and item mapping."""
