"""Voice: calls with sound between the caller's browser and the agent's desk (WebRTC)."""
