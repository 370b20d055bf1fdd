-- The sequence number each feedback row was inserted with (issue "Repeated and duplicate
-- feedback"). A change whose `seq` still equals it is the item's first version, which the search
-- index cannot hold yet, so the indexer adds it without first deleting an older copy: tantivy
-- looks every delete up in every segment at each commit, which grew with the index. Rows from
-- before this column have NULL and are treated as updates.
ALTER TABLE feedback ADD COLUMN inserted_seq INTEGER;
