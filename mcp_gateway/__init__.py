"""The MCP gateway: the lab's observe and act tools for agents we did not write.

It reads what observability and the knowledge index show, acts only through the action
server with a key of its own (named after the MCP client), puts every high-risk action
behind a human's approval, and holds no chaos credential.
"""
