-- The latest lead score of each contact.
SELECT contact_id, email, lead_score
FROM analytics.contact_scores
