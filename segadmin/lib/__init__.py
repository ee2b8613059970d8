"""Small helpers every layer may use: reading JSON that a person typed or uploaded, and writing
CSV that a spreadsheet opens safely. No models, no views, no settings read at import time."""
