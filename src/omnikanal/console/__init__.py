"""The staff web console: server-rendered pages for agents, store staff and admins."""
