"""A toy PDDL domain and a task stated in it, defined only here: importing this package
registers both, and nothing outside this folder knows them (the test that a domain is
one module: tests/tamp/test_toy_domain.py)."""
