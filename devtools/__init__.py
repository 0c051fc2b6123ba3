"""Development tools for a stack started by `make run`: `aftersales demo` seeds one, and
`aftersales simulate` plays the carrier. They talk to the API over HTTP as any client does
(and read the parcels of a case from the read model), so they need no settings of their own:
the stack's URL and data directory say where everything is."""
