-- Where a store is, as ops group their stores: its province and district (kept as fields, not
-- folded into the address) and its region, an ops-defined grouping such as 华东大区 (optional).
-- The customer picker, the health page and the funnel filter by them.
ALTER TABLE stores ADD COLUMN IF NOT EXISTS province text;
ALTER TABLE stores ADD COLUMN IF NOT EXISTS district text;
ALTER TABLE stores ADD COLUMN IF NOT EXISTS region text;
