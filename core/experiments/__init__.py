"""Goals and A/B tests: input rules (`rules`, pure) and saving/loading them (`store`)."""
