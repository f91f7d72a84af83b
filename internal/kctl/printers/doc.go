// Package printers holds kctl's output printers that cli-runtime does not
// provide: custom columns, the --sort-by sorter for objects and Table rows,
// and kubectl's relaxed JSONPath syntax. Table rendering itself is
// cli-runtime's HumanReadablePrinter, the printer kubectl uses.
package printers
