"""The ground floor: what every domain uses and none owns. The one error hierarchy (`errors`), storage
basics (`db`: naming convention, the UTC instant column, stamp rows, ANALYZE after bulk loads), shared input
shapes (`schemas`: `Input`, `IsoDate`/`IsoDateTime`, `Page`), local time at the edges (`localtime`) and
formula-safe spreadsheets (`spreadsheets`). Imports nothing of ours."""
