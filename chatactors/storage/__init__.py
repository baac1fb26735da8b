"""Durability: what the actors need from a store, and the engines that provide it."""
