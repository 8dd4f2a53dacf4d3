"""The Partnerships subscription, billed with Stripe."""
