"""The action server: the only way anything in Breakfix changes the running lab to fix it."""
