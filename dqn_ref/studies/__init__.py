"""Many runs: studies of one config over seeds (local and Ray backends), their statistics, report
and figures, and the hyperparameter search (ARCHITECTURE.md)."""
