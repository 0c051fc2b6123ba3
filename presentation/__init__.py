"""What customers read: the words for each status and timeline entry, the steps still to
come, the next step with its deadline, dates and amounts as people write them, and the
emails. Fed by the typed facts of `domain.contracts.facts` and the timeline; pure (no HTML,
no database), so the API and the outbox render the same words."""
