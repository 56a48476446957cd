"""The placement lifecycle's domain records (pupils, providers, placements, plans, reviews, concerns, ...),
the handlers that workflow steps call to write them, and the queries that list, search and report on them."""
