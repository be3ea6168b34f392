"""Follows, keyword alerts and revision notices (issue 18, items 4 and 5).

match.py: how a followed name or an alert phrase matches a paper (plain functions);
commands.py: `/papers follow|unfollow|alert|following` (plain Python over storage.follows);
notify.py: `notify_new_papers`, called after every fetch stores papers.
"""
