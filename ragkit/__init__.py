"""Plain Python the workbench is built on, needing neither Hamilton nor Streamlit: the schema, errors, file parsing,
text splitting, rank fusion, the embedding cache and the int8 ONNX export."""
