"""What the processes tell their operators: metrics, traces and logs."""
