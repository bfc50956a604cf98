"""The matching engine and what happens in a book: price-time priority (:mod:`.orderbook`),
LOBSTER replay and verification (:mod:`.replay`), the realisation rules of generated orders
(:mod:`.market`), sessions recorded as LOBSTER events (:mod:`.recording`), seeded random
order streams (:mod:`.random_flow`) and the compiled twin of the book (:mod:`.compiled`)."""
