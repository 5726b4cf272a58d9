"""Game days: faults (chaos-made and made by hand) against any agent, scored from outside.

A game day injects catalogue faults into a running lab, probes it as a user would, lets an
arm respond (the lab's agent, nobody, or a naive restart bot), and scores every case: the
user outage, what was diagnosed and done, who recovered it, and what was left behind.
"""
