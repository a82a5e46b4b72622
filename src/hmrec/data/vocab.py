"""Believable catalogue vocabulary for the synthetic shop (names modelled on H&M's own)."""

from __future__ import annotations

# index_code, index_name, index_group_no, index_group_name, buyer age centre, age spread,
# allowed product groups
INDEXES = [
    ("A", "Ladieswear", 1, "Ladieswear", 38, 12, "garment"),
    ("B", "Lingeries/Tights", 1, "Ladieswear", 34, 12, "intimate"),
    ("C", "Ladies Accessories", 1, "Ladieswear", 34, 13, "accessory"),
    ("D", "Divided", 2, "Divided", 22, 5, "garment"),
    ("F", "Menswear", 3, "Menswear", 36, 13, "garment"),
    ("G", "Baby Sizes 50-98", 4, "Baby/Children", 31, 5, "garment"),
    ("H", "Children Sizes 92-140", 4, "Baby/Children", 37, 6, "garment"),
    ("I", "Children Sizes 134-170", 4, "Baby/Children", 43, 6, "garment"),
    ("S", "Sport", 26, "Sport", 29, 9, "garment"),
]

# section_no, section_name, index_code
SECTIONS = [
    (16, "Womens Everyday Collection", "A"),
    (15, "Womens Everyday Basics", "A"),
    (18, "Womens Trend", "A"),
    (11, "Womens Tailoring", "A"),
    (66, "Womens Casual", "A"),
    (8, "Mama", "A"),
    (61, "Womens Lingerie", "B"),
    (62, "Womens Nightwear, Socks & Tigh", "B"),
    (64, "Womens Shoes", "C"),
    (60, "Womens Small accessories", "C"),
    (52, "Divided Collection", "D"),
    (53, "Divided Basics", "D"),
    (51, "Divided Projects", "D"),
    (21, "Contemporary Casual", "F"),
    (20, "Contemporary Smart", "F"),
    (26, "Men Underwear", "F"),
    (44, "Baby Essentials & Complements", "G"),
    (41, "Baby Girl", "G"),
    (46, "Kids Girl", "H"),
    (45, "Kids Boy", "H"),
    (77, "Young Girl", "I"),
    (76, "Young Boy", "I"),
    (5, "Ladies H&M Sport", "S"),
    (42, "Men H&M Sport", "S"),
]

# product_type_no, product_type_name, product_group_name, outfit role, garment_group_no,
# garment_group_name, kind (which indexes sell it), mean price in SEK
PRODUCT_TYPES = [
    (253, "Vest top", "Garment Upper body", "top", 1002, "Jersey Basic", "garment", 99),
    (255, "T-shirt", "Garment Upper body", "top", 1005, "Jersey Fancy", "garment", 149),
    (252, "Sweater", "Garment Upper body", "top", 1003, "Knitwear", "garment", 299),
    (262, "Cardigan", "Garment Upper body", "top", 1003, "Knitwear", "garment", 299),
    (258, "Blouse", "Garment Upper body", "top", 1010, "Blouses", "garment", 249),
    (259, "Shirt", "Garment Upper body", "top", 1011, "Shirts", "garment", 249),
    (264, "Jacket", "Garment Upper body", "outer", 1007, "Outdoor", "garment", 499),
    (272, "Trousers", "Garment Lower body", "bottom", 1009, "Trousers", "garment", 299),
    (273, "Skirt", "Garment Lower body", "bottom", 1012, "Skirts", "garment", 249),
    (274, "Shorts", "Garment Lower body", "bottom", 1025, "Shorts", "garment", 199),
    (275, "Leggings/Tights", "Garment Lower body", "bottom", 1002, "Jersey Basic", "garment", 149),
    (265, "Dress", "Garment Full body", "full", 1013, "Dresses Ladies", "garment", 349),
    (59, "Bikini top", "Swimwear", "swim top", 1018, "Swimwear", "garment", 149),
    (298, "Swimwear bottom", "Swimwear", "swim bottom", 1018, "Swimwear", "garment", 129),
    (306, "Bra", "Underwear", "under top", 1017, "Under-, Nightwear", "intimate", 199),
    (286, "Underwear bottom", "Underwear", "under bottom", 1017, "Under-, Nightwear", "intimate", 79),
    (267, "Pyjama set", "Nightwear", "full", 1017, "Under-, Nightwear", "intimate", 249),
    (304, "Underwear Tights", "Socks & Tights", "single", 1021, "Socks and Tights", "intimate", 99),
    (302, "Socks", "Socks & Tights", "single", 1021, "Socks and Tights", "accessory", 49),
    (87, "Sneakers", "Shoes", "single", 1020, "Shoes", "accessory", 399),
    (66, "Earring", "Accessories", "single", 1019, "Accessories", "accessory", 99),
    (83, "Bag", "Accessories", "single", 1019, "Accessories", "accessory", 249),
]

# Which role completes an outfit with which.
OUTFIT_PARTNER_ROLE = {
    "top": "bottom",
    "bottom": "top",
    "swim top": "swim bottom",
    "swim bottom": "swim top",
    "under top": "under bottom",
    "under bottom": "under top",
}

# graphical_appearance_no, graphical_appearance_name
APPEARANCES = [
    (1010016, "Solid"),
    (1010001, "All over pattern"),
    (1010017, "Stripe"),
    (1010010, "Melange"),
    (1010008, "Front print"),
    (1010004, "Check"),
    (1010023, "Denim"),
    (1010014, "Placement print"),
]

# colour_group_code, colour_group_name, perceived_colour_value_id, perceived_colour_value_name,
# perceived_colour_master_id, perceived_colour_master_name
COLOURS = [
    (9, "Black", 4, "Dark", 5, "Black"),
    (10, "White", 3, "Light", 9, "White"),
    (73, "Dark Blue", 4, "Dark", 2, "Blue"),
    (7, "Grey", 2, "Medium Dusty", 12, "Grey"),
    (13, "Beige", 1, "Dusty Light", 11, "Beige"),
    (72, "Blue", 2, "Medium Dusty", 2, "Blue"),
    (51, "Light Pink", 1, "Dusty Light", 4, "Pink"),
    (42, "Red", 5, "Bright", 18, "Red"),
    (93, "Dark Green", 4, "Dark", 19, "Green"),
    (6, "Light Grey", 3, "Light", 12, "Grey"),
    (71, "Light Blue", 3, "Light", 2, "Blue"),
    (19, "Greenish Khaki", 2, "Medium Dusty", 20, "Khaki green"),
    (11, "Off White", 3, "Light", 9, "White"),
    (52, "Pink", 5, "Bright", 4, "Pink"),
    (33, "Yellow", 5, "Bright", 8, "Yellow"),
    (17, "Yellowish Brown", 2, "Medium Dusty", 13, "Brown"),
]

NAMES = (
    "Tigra Lena Jade Luna Mika Ellie Penny Rosie Bella Denver Ivy Maja Nora Oskar Sigge Alva "
    "Bonnie Hanna Elin Felix Greta Hugo Iris Jonna Kim Linn Moa Nils Olle Pia Ronja Saga Tove "
    "Ulla Vera Wilma Yrsa Zelda Astrid Britt Cleo Dina Ebba Frida Gustav Ines Juno Kalle"
).split()
ADJECTIVES = "Slim Relaxed Ribbed Padded Basic Wide Cropped Oversized Linen Soft Skinny Cosy".split()
MATERIALS = [
    "soft cotton jersey",
    "stretch denim",
    "fine-knit fabric",
    "woven viscose",
    "ribbed jersey",
    "sweatshirt fabric",
    "recycled polyester",
]
FEATURES = [
    "a round neckline and short sleeves",
    "an elasticated waist",
    "covered buttons at the back",
    "side pockets",
    "a V-neck and long sleeves",
    "adjustable shoulder straps",
    "a drawstring at the hem",
]
CLUB_STATUSES = [("ACTIVE", 0.928), ("PRE-CREATE", 0.067), ("LEFT CLUB", 0.001), (None, 0.004)]
NEWS_FREQUENCIES = [("NONE", 0.64), ("Regularly", 0.35), ("Monthly", 0.001), (None, 0.009)]
