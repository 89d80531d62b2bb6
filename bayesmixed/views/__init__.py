"""What a reader sees: plots and the primer report."""
