"""libeo_link"""
