"""Domain events: an outbox written in the writer's transaction, published after commit."""
