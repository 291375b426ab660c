"""Conversations: one inbox across chat, email, phone and social, and what an agent needs
to continue a customer's conversation without asking again."""
