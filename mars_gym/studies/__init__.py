"""The studies behind the simulator: what the generated markets are worth, measured.

* :mod:`~mars_gym.studies.fidelity` (+ :mod:`~mars_gym.studies.fidelity_figures`): real
  held-out data against generated markets, distances and stylized facts;
* :mod:`~mars_gym.studies.impact` and :mod:`~mars_gym.studies.metaorder` (+
  :mod:`~mars_gym.studies.metaorder_report`, its plots): market impact of agent orders;
* :mod:`~mars_gym.studies.forecast`: the mid's direction predicted from rollouts;
* :mod:`~mars_gym.studies.bench`: environment throughput.

Each has a ``mars-gym`` command (:mod:`mars_gym.console`); none imports the console.
"""
