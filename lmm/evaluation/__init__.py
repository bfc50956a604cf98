"""How faithful the generated market is: held-out likelihood and fidelity (:mod:`.evaluate`),
the baselines (:mod:`.baselines`), stylized facts (:mod:`.stylized`), LOB-Bench's scores
(:mod:`.lobbench`, :mod:`.scoring`), drift (:mod:`.drift`) and generation speed
(:mod:`.bench`)."""
