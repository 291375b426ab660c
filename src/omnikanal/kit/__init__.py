"""Small shared helpers: ids, time, money, pagination."""
