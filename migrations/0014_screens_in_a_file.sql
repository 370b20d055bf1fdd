-- The duplicate screens leave the database (issue "Repeated and duplicate feedback"): reading
-- them through SQLite cost the writer 18 µs per item with a million items stored, every page
-- cached or not. They live in `duplicate-screens.bin` in the data dir (src/store/screens.rs),
-- written afresh from feedback_signals at every start.
DROP TABLE signature_screens;
