"""What a person reads: the live progress view, the `.summary.json` and end-of-run summary,
and the HTML report with its figures. Imports `core`, `sources`, `results`, `scoring`,
`engine` (for the counters and the endpoint pool it shows).
"""
