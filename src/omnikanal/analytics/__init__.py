"""Journey analytics across store and online on DuckDB: funnels, webrooming and
showrooming, channel paths and attribution, cohorts, customer value, satisfaction."""
