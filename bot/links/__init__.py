"""Paper links shared in Slack become cards (issue 11): parse → fetch → unfurl."""
