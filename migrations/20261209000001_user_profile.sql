-- A user's name and e-mail as commits written back to git carry them
-- (the author of an edit made in the dashboard). Null: the user name, and
-- an address made from it.
ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN email text;
