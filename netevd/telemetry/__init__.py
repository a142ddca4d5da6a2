"""What netevd tells about itself: metrics, the event log, latency. Every layer may use it."""
