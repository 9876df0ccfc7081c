"""One module per delivery channel of agency runs; registered in auditor.outputs."""
