"""What a coordinator reads: My queue and the leads list (worklist), a lead's story, plain views for
--json and pages, and the words and clinic time every page, export and CLI table uses.
"""
