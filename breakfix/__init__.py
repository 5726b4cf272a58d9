"""The lab itself: `breakfix run`'s runner (provisioning, then the supervisor), and the
`breakfix` CLI. It may import any service; the kit (`lab`) and the services never import it.
"""
