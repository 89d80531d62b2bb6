"""What combines or refits fits: effect sizes, likelihood-ratio tests, REML-vs-Bayes
comparison, consequences of clustering and assumption checks."""
