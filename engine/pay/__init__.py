"""Variable pay: plans lowered for pay (`spec`), the exact math (`math`), who is paid on what
(`schedule`), what measures are paid on (`inputs`), the per-record reference (`reference`), the
table path (`vector`) and how results are written (`format`)."""
