"""Small corpora that several tests ingest: one short text file each."""

VOLCANOES = {
    "etna.txt": "Mount Etna is an active volcano on the east coast of Sicily.",
    "vesuvius.txt": "Vesuvius destroyed Pompeii in the year 79; it is a volcano near Naples.",
    "stromboli.txt": "Stromboli, a small island volcano, erupts every few minutes.",
    "alps.txt": "The Alps are a mountain range with glaciers and ski resorts.",
    "sicily.txt": "Sicily is the largest island of the Mediterranean Sea, east of Sardinia.",
    "pompeii.txt": "Pompeii was a Roman town buried by ash; its ruins near Naples draw tourists.",
}
