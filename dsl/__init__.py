"""The Koncept ruleset language: parse, check and format `.krl` files."""
