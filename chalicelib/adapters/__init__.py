"""AWS adapters: clients, queues, payloads, encryption, metrics, outbound webhooks, and the stores."""
