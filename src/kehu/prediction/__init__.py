"""Customer-base models: BG/NBD, Pareto/NBD and Gamma-Gamma fitted on the company's orders;
P(alive), expected purchases and CLV per customer."""
