"""Export notebooks with nbconvert (File > Save and Export Notebook As)."""
