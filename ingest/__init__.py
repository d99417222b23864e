"""Source loaders and the demo-firm generator."""
