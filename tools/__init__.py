"""Development tools, outside the product: the local Kafka broker, the layout script."""
